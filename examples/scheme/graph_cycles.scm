;; A graph with cycles, built and dropped in a loop with automatic collection on. Each
;; round makes 50 vertices with pseudo-random edges (many cycles), counts the vertices
;; reachable from vertex 0, and drops the graph. Reference counting cannot free the
;; graphs; the young-generation collections that allocation triggers do.

(define-record-type vertex
  (make-vertex label edges)
  vertex?
  (label vertex-label)
  (edges vertex-edges set-vertex-edges!))

;; A linear congruential generator, so every run builds the same graphs.
(define seed 12345)
(define (rand n)
  (set! seed (modulo (+ (* seed 1103515245) 12345) 2147483648))
  (modulo (quotient seed 65536) n))

(define (build-graph n edges-per-vertex)
  (let ((vs (make-vector n #f)))
    (do ((i 0 (+ i 1))) ((= i n)) (vector-set! vs i (make-vertex i '())))
    (do ((i 0 (+ i 1))) ((= i n))
      (let ((v (vector-ref vs i)))
        (do ((k 0 (+ k 1))) ((= k edges-per-vertex))
          (set-vertex-edges! v (cons (vector-ref vs (rand n)) (vertex-edges v))))))
    vs))

(define (reachable-count vs start)
  (let ((seen (make-vector (vector-length vs) #f)))
    (let visit ((v (vector-ref vs start)))
      (unless (vector-ref seen (vertex-label v))
        (vector-set! seen (vertex-label v) #t)
        (for-each visit (vertex-edges v))))
    (let count ((i 0) (c 0))
      (if (= i (vector-length seen))
          c
          (count (+ i 1) (if (vector-ref seen i) (+ c 1) c))))))

(define rounds 300)
(define first-vertex #f)
(define max-tracked 0)
(define total 0)
(do ((r 0 (+ r 1))) ((= r rounds))
  (let ((g (build-graph 50 2)))
    (when (= r 0) (set! first-vertex (make-weak (vector-ref g 0))))
    (set! total (+ total (reachable-count g 0)))
    (when (= (remainder r 10) 0)
      (set! max-tracked (max max-tracked (tracked-objects))))))

(display "rounds: ") (display rounds) (newline)
(display "vertices reachable from vertex 0, summed over rounds: ") (display total) (newline)
(display "automatic collections ran: ") (display (> (car (car (get-stats))) 0)) (newline)
(display "tracked objects stayed bounded (< 5000): ") (display (< max-tracked 5000)) (newline)
(gc-collect)
(display "the first round's graph is gone: ") (display (not (weak-ref first-vertex))) (newline)
