;; Python's memory model, observation by observation (see ../../../shared/seeds/):
;; names and ids, the small-int cache and interning, reference counts, a cycle that
;; reference counting cannot free and the collector can, and the gc module's counters.
;; Ids are addresses, so the program prints comparisons of them, never the ids.

(define (show label value) (display label) (display value) (newline))

;; Automatic collection off, so that the counts printed below do not depend on when the
;; thresholds trip; everything is collected explicitly.
(gc-disable)

(display "-- 1. A name is a label for an object; two names can share one object") (newline)
(define a (list 1 2 3))
(define b a)
(show "b is a (same id):        " (= (id a) (id b)))
(show "b is a (eq?):            " (eq? a b))
(define c (list 1 2 3))
(show "an equal new list is a:  " (eq? a c))
(show "but it is equal? to a:   " (equal? a c))

(display "-- 2. Small integers -5..=256 are cached; larger ones are new objects") (newline)
(define x 100)
(define y (+ 99 1))
(show "100 is (+ 99 1):         " (eq? x y))
(show "same id:                 " (= (id x) (id y)))
(show "256 is (+ 255 1):        " (eq? 256 (+ 255 1)))
(show "257 is (+ 256 1):        " (eq? 257 (+ 256 1)))
(show "but they are =:          " (= 257 (+ 256 1)))
(show "-5 is (- 0 5):           " (eq? -5 (- 0 5)))
(show "-6 is (- 0 6):           " (eq? -6 (- 0 6)))
(show "symbols are interned:    " (eq? 'hello (string->symbol (string-append "hel" "lo"))))
(show "strings are not:         " (eq? (string-append "ab" "c") (string-append "a" "bc")))
(show "integers are untracked:  " (not (tracked? 1000)))
(show "lists are tracked:       " (tracked? a))

(display "-- 3. Reference counts rise and fall as names are bound and unbound") (newline)
;; Like sys.getrefcount, (refcount x) counts the reference its own argument holds.
(define my-list (list 1 2 3))
(show "refcount, one name:      " (refcount my-list))
(define another-list my-list)
(show "after (define another-list my-list): " (refcount my-list))
(define w (make-weak my-list))
(show "a weak reference adds nothing: " (refcount my-list))
(set! my-list (list 4 5 6))
(show "after rebinding my-list: " (refcount another-list))
(show "the old list is alive:   " (weak-ref w))
(set! another-list #f)
(show "after unbinding the last name, it is gone at once: " (weak-ref w))
(show "and no collection ran:   " (car (car (get-stats))))

(display "-- 4. A reference cycle survives reference counting; the collector frees it") (newline)
(define-record-type my-class
  (make-my-class name other)
  my-class?
  (name my-class-name)
  (other my-class-other set-my-class-other!))

;; The finalizer (Python's __del__) is a thunk run once when the record dies. It is made
;; by its own procedure so that it does not capture the record: a finalizer that holds
;; its record resurrects it (PEP 442), and the collector then frees it one round later.
(define (destroyed-message name)
  (lambda () (display name) (display " is being destroyed!") (newline)))

(define (create name)
  (let ((obj (make-my-class name #f)))
    (display name) (display " created.") (newline)
    (set-finalizer! obj (destroyed-message name))
    obj))

(define obj-a (create "Object A"))
(define obj-b (create "Object B"))
(set-my-class-other! obj-a obj-b)
(set-my-class-other! obj-b obj-a)
(define wa (make-weak obj-a))
(show "refcount of A (its name, B's field, the argument): " (refcount obj-a))
(set! obj-a #f)
(set! obj-b #f)
(show "after unbinding both names, A is still alive: " (my-class? (weak-ref wa)))
(display "(gc-collect) ...") (newline)
(show "unreachable objects found: " (gc-collect))
(show "A is gone:               " (weak-ref wa))

(display "-- 5. get-count and gc-collect behave as the gc module does") (newline)
(show "thresholds:              " (get-threshold))
(gc-collect)
(show "count right after a full collection: " (get-count))
(define keep (let loop ((i 0) (acc '())) (if (= i 100) acc (loop (+ i 1) (cons i acc)))))
(show "100 new pairs counted in generation 0: " (>= (car (get-count)) 100))
(define collections-before (car (car (get-stats))))
;; The named let above made a cycle: its frame holds the loop procedure, whose
;; environment is that frame. Collecting generation 0 frees those two objects.
(show "collecting generation 0 frees the loop's frame and closure: " (gc-collect 0))
(show "and moves the survivors into generation 1: " (get-count))
(show "generation 0 collections since: " (- (car (car (get-stats))) collections-before))
(gc-enable)
(show "automatic collection enabled: " (gc-enabled?))
