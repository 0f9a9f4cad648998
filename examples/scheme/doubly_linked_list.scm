;; A doubly linked list: every interior node points at both neighbours, so the list is one
;; big reference cycle. Unlinking a node frees it at once (nothing points at it any more);
;; dropping the whole list leaves a cycle that only the collector can free.

(define-record-type node
  (make-node value prev next)
  node?
  (value node-value)
  (prev node-prev set-node-prev!)
  (next node-next set-node-next!))

(define-record-type dlist
  (make-dlist head tail size)
  dlist?
  (head dlist-head set-dlist-head!)
  (tail dlist-tail set-dlist-tail!)
  (size dlist-size set-dlist-size!))

(define (new-dlist) (make-dlist #f #f 0))

(define (push-back! l v)
  (let ((n (make-node v (dlist-tail l) #f)))
    (if (dlist-tail l)
        (set-node-next! (dlist-tail l) n)
        (set-dlist-head! l n))
    (set-dlist-tail! l n)
    (set-dlist-size! l (+ (dlist-size l) 1))
    n))

(define (unlink! l n)
  (let ((p (node-prev n)) (q (node-next n)))
    (if p (set-node-next! p q) (set-dlist-head! l q))
    (if q (set-node-prev! q p) (set-dlist-tail! l p))
    (set-node-prev! n #f)
    (set-node-next! n #f)
    (set-dlist-size! l (- (dlist-size l) 1))))

(define (to-list-forward l)
  (let loop ((n (dlist-tail l)) (acc '()))
    (if n (loop (node-prev n) (cons (node-value n) acc)) acc)))

(define (to-list-backward l)
  (let loop ((n (dlist-head l)) (acc '()))
    (if n (loop (node-next n) (cons (node-value n) acc)) acc)))

(define (sum-forward l)
  (let loop ((n (dlist-head l)) (s 0))
    (if n (loop (node-next n) (+ s (node-value n))) s)))

(gc-disable)
(gc-collect)

(define l (new-dlist))
(do ((i 1 (+ i 1))) ((> i 10)) (push-back! l i))
(display "tail to head, via prev links: ") (display (to-list-forward l)) (newline)
(display "head to tail, via next links, consed: ") (display (to-list-backward l)) (newline)

;; Unlink the node holding 5, keeping only a weak reference to it.
(define five
  (let loop ((n (dlist-head l)))
    (if (= (node-value n) 5) (make-weak n) (loop (node-next n)))))
(display "node 5 alive before unlinking: ") (display (node? (weak-ref five))) (newline)
(unlink! l (weak-ref five))
(display "after unlinking, freed by reference counting: ") (display (weak-ref five)) (newline)
(display "list now: ") (display (to-list-forward l)) (newline)
(display "size: ") (display (dlist-size l)) (newline)

;; A big list, then drop it: its 1000 nodes form one cycle.
(define big (new-dlist))
(do ((i 0 (+ i 1))) ((= i 1000)) (push-back! big i))
(display "sum of 0..999: ") (display (sum-forward big)) (newline)
(define first-node (make-weak (dlist-head big)))
(gc-collect)
(set! big #f)
(display "dropped; first node still alive (a cycle): ") (display (node? (weak-ref first-node))) (newline)
(display "collected: ") (display (gc-collect)) (newline)
(display "first node now: ") (display (weak-ref first-node)) (newline)
(gc-enable)
