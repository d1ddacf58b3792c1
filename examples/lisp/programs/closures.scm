;; closures: counters, accumulators, composition and a closure-based
;; stream; every call makes frames and closures that die young.
(define (make-counter)
  (let ((n 0)) (lambda () (set! n (+ n 1)) n)))

(define c1 (make-counter))
(define c2 (make-counter))
(c1) (c1) (c2)
(write (list (c1) (c2))) (newline)

(define (compose . fs)
  (if (null? fs) (lambda (x) x)
      (lambda (x) ((car fs) ((apply compose (cdr fs)) x)))))
(define add1 (lambda (x) (+ x 1)))
(define double (lambda (x) (* x 2)))
(write ((compose add1 double add1) 5)) (newline)

;; streams as closures
(define (ints-from n) (cons n (lambda () (ints-from (+ n 1)))))
(define (stream-take s k) (if (= k 0) '() (cons (car s) (stream-take ((cdr s)) (- k 1)))))
(define (stream-filter p s)
  (if (p (car s)) (cons (car s) (lambda () (stream-filter p ((cdr s)))))
      (stream-filter p ((cdr s)))))
(define (sieve s)
  (cons (car s) (lambda () (sieve (stream-filter (lambda (x) (not (= 0 (remainder x (car s))))) ((cdr s)))))))
(write (stream-take (sieve (ints-from 2)) 25)) (newline)

;; a closure per element, called later
(define thunks (map (lambda (i) (lambda () (* i i))) '(1 2 3 4 5 6 7 8 9 10)))
(write (map (lambda (t) (t)) thunks)) (newline)

;; mutual recursion through letrec, in tail position: constant stack
(define (parity n)
  (letrec ((ev? (lambda (k) (if (= k 0) #t (od? (- k 1)))))
           (od? (lambda (k) (if (= k 0) #f (ev? (- k 1))))))
    (ev? n)))
(write (list (parity 10001) (parity 10000))) (newline)

;; a fold building closures many times over
(define (fold f acc l) (if (null? l) acc (fold f (f acc (car l)) (cdr l))))
(define (churn k)
  (let loop ((i 0) (sum 0))
    (if (= i k) sum
        (loop (+ i 1) (+ sum ((fold (lambda (f x) (lambda (y) (f (+ x y)))) (lambda (y) y) '(1 2 3)) i))))))
(write (churn 5000)) (newline)
(write `(1 ,@(map add1 '(1 2)) #(a ,(double 4)))) (newline)
