;; tailcall: a named-let loop of N iterations (default 10 million) runs in
;; constant C stack: every iteration is a tail call, far past the limit
;; on nested (non-tail) calls.
(define n (let ((a (command-line))) (if (> (length a) 1) (string->number (cadr a)) 10000000)))
(define (count-up limit)
  (let loop ((i 0) (acc 0))
    (if (= i limit) acc (loop (+ i 1) (+ acc 1)))))
(display (= (count-up n) n)) (newline)
(define (even-odd k) (cond ((= k 0) 'even) ((= k 1) 'odd) (else (even-odd (- k 2)))))
(display (even-odd (+ n 1))) (newline)
(display (apply + (list 1 2 3))) (newline)
(define (via-apply k) (if (= k 0) 'done (apply via-apply (list (- k 1)))))
(display (via-apply n)) (newline)
