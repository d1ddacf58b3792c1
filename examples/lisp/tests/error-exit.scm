;; A program stops at its first error and gchlisp exits 1.
(display "before")
(newline)
(define (f x) (vector-ref x 0))
(f 'not-a-vector)
(display "never printed")
