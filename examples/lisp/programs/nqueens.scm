;; nqueens: count the solutions of the N-queens problem by backtracking
;; over lists (default N = 8: 92 solutions), and print the first one.
(define n (let ((a (command-line))) (if (> (length a) 1) (string->number (cadr a)) 8)))

(define (ok? row dist placed)
  (or (null? placed)
      (and (not (= (car placed) (+ row dist)))
           (not (= (car placed) (- row dist)))
           (not (= (car placed) row))
           (ok? row (+ dist 1) (cdr placed)))))

(define (range a b) (if (>= a b) '() (cons a (range (+ a 1) b))))

;; all solutions, each a list of column numbers
(define (queens k)
  (if (= k 0)
      '(())
      (let loop ((prev (queens (- k 1))) (acc '()))
        (if (null? prev)
            acc
            (loop (cdr prev)
                  (append (map (lambda (col) (cons col (car prev)))
                               (let keep ((cols (range 0 n)) (out '()))
                                 (cond ((null? cols) (reverse out))
                                       ((ok? (car cols) 1 (car prev)) (keep (cdr cols) (cons (car cols) out)))
                                       (else (keep (cdr cols) out)))))
                          acc))))))

(define solutions (queens n))
(display n) (display "-queens: ") (display (length solutions)) (display " solutions") (newline)
(define first (car (reverse solutions)))
(for-each (lambda (col)
            (display (list->string (map (lambda (c) (if (= c col) #\Q #\.)) (range 0 n))))
            (newline))
          first)
