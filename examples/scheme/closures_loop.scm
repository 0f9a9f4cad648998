;; Closures in a loop. A closure captures the frame it was made in, so a procedure that
;; defines a local recursive helper makes a cycle on every call: the frame holds the
;; helper, and the helper's environment is the frame.

(define (make-counter)
  (let ((n 0))
    (lambda () (set! n (+ n 1)) n)))

(define c1 (make-counter))
(define c2 (make-counter))
(c1) (c1) (c2)
(display "counters are independent: ") (display (list (c1) (c2))) (newline)

(define (make-adders k)
  (let loop ((i 0) (acc '()))
    (if (= i k) (reverse acc) (loop (+ i 1) (cons (lambda (x) (+ x i)) acc)))))
(display "each closure keeps its own i: ")
(display (map (lambda (f) (f 100)) (make-adders 5)))
(newline)

;; sum-to defines a local recursive helper: every call leaves a two-object cycle
;; (frame <-> helper) that only the collector frees.
(define (sum-to n)
  (define (go i acc) (if (> i n) acc (go (+ i 1) (+ acc i))))
  (go 1 0))

(define iterations 20000)
(define last-helper #f)
(define max-tracked 0)
(define total 0)
(do ((i 0 (+ i 1))) ((= i iterations))
  (set! total (+ total (sum-to 10)))
  (when (= (remainder i 1000) 0)
    (set! max-tracked (max max-tracked (tracked-objects)))))
(display "iterations: ") (display iterations) (newline)
(display "total: ") (display total) (newline)
(display "collector kept up (tracked objects < 5000): ") (display (< max-tracked 5000)) (newline)

;; The same cycle, watched through a weak reference (automatic collection off, so that
;; the explicit collection finds exactly this cycle).
(gc-collect)
(gc-disable)
(define (make-cycle)
  (define (helper) helper)
  helper)
(define w (make-weak (make-cycle)))
(display "cycle alive after its last name went: ") (display (procedure? (weak-ref w))) (newline)
(display "collected by gc-collect: ") (display (gc-collect)) (newline)
(display "cycle alive after collection: ") (display (weak-ref w)) (newline)
(gc-enable)
