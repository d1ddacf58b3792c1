;; Non-tail recursion 90000 calls deep is fine (the limit is 100000).
(define (down n) (if (= n 0) 0 (+ 1 (down (- n 1)))))
(display (down 90000))
(newline)
(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))
(display (length (build 90000)))
(newline)
