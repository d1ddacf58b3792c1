;; threads: two threads share one hash table under a mutex, each adding
;; its own keys and bumping shared counters, while both allocate (so the
;; collector runs while they do).  The main thread joins them and checks.
(define table (make-hash-table))
(define lock (make-mutex))
(define n 2000)

(define (worker id)
  (lambda ()
    (let loop ((i 0) (garbage '()))
      (when (< i n)
        (mutex-lock! lock)
        (hash-table-set! table (list id i) (number->string i))
        (hash-table-update!/default table 'total (lambda (x) (+ x 1)) 0)
        (hash-table-update!/default table (if (even? i) 'even 'odd) (lambda (x) (+ x 1)) 0)
        (mutex-unlock! lock)
        ;; thread-local garbage
        (loop (+ i 1) (if (= 0 (remainder i 100)) '() (cons (make-vector 4 i) garbage)))))
    (* id 1000)))

(define t1 (spawn (worker 1)))
(define t2 (spawn (worker 2)))
(define r1 (join t1))
(define r2 (join t2))
(write (list r1 r2)) (newline)
(write (list (hash-table-count table)
             (hash-table-ref/default table 'total 0)
             (hash-table-ref/default table 'even 0)
             (hash-table-ref/default table 'odd 0)))
(newline)
(write (list (hash-table-ref/default table '(1 1999) #f)
             (hash-table-ref/default table '(2 0) #f)
             (hash-table-ref/default table '(3 0) 'none)))
(newline)
