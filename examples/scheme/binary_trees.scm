;; binary-trees (the Computer Language Benchmarks Game), on the gc-api heap.
;; usage: gc-scheme binary_trees.scm [max-depth]   (default 10)
;; Every tree node is a pair (a tracked gc-api object); each tree dies by reference
;; counting as soon as it has been checked, while the young-generation collections the
;; allocations trigger examine whatever is live.

(define (make-tree depth)
  (if (= depth 0)
      (cons '() '())
      (cons (make-tree (- depth 1)) (make-tree (- depth 1)))))

(define (check tree)
  (if (null? (car tree))
      1
      (+ 1 (check (car tree)) (check (cdr tree)))))

(define (pow2 n) (if (= n 0) 1 (* 2 (pow2 (- n 1)))))

(define args (command-line))
(define min-depth 4)
(define max-depth (max (+ min-depth 2) (if (null? args) 10 (string->number (car args)))))

(define (report label depth value)
  (display label) (display depth) (display "\t check: ") (display value) (newline))

(let ((stretch (+ max-depth 1)))
  (report "stretch tree of depth " stretch (check (make-tree stretch))))

(define long-lived (make-tree max-depth))

(do ((depth min-depth (+ depth 2)))
    ((> depth max-depth))
  (let ((iterations (pow2 (+ (- max-depth depth) min-depth))))
    (let loop ((i 0) (sum 0))
      (if (= i iterations)
          (begin
            (display iterations)
            (report "\t trees of depth " depth sum))
          (loop (+ i 1) (+ sum (check (make-tree depth))))))))

(report "long lived tree of depth " max-depth (check long-lived))
