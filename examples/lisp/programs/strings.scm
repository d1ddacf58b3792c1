;; strings: a string builder.  Builds strings by appending pieces (each
;; step a fresh noscan string), converts numbers and symbols back and
;; forth, and checks the results.
(define (repeat-string s k)
  (let loop ((i 0) (acc ""))
    (if (= i k) acc (loop (+ i 1) (string-append acc s)))))

(define (join strs sep)
  (if (null? strs)
      ""
      (let loop ((rest (cdr strs)) (acc (car strs)))
        (if (null? rest) acc (loop (cdr rest) (string-append acc sep (car rest)))))))

(define (number-list n) (let loop ((i n) (acc '())) (if (= i 0) acc (loop (- i 1) (cons i acc)))))

(define numbers (join (map number->string (number-list 20)) ","))
(display numbers) (newline)
(display (string-length (repeat-string "abc" 1000))) (newline)

(define (string-reverse s) (list->string (reverse (string->list s))))
(display (string-reverse "gcheap builds strings")) (newline)

(define sym (string->symbol (string-append "made-" (number->string 42))))
(write (list sym (symbol->string sym) (eq? sym 'made-42))) (newline)
(write (substring "hello, world" 7 12)) (newline)
(write (list (string=? "abc" "abc") (string<? "abc" "abd") (string<? "b" "a"))) (newline)
(write (map (lambda (s) (string->number s 16)) '("ff" "10" "zz"))) (newline)
(write (number->string -255 2)) (newline)

;; many short-lived strings: the collector reclaims them
(define (churn k)
  (let loop ((i 0) (total 0))
    (if (= i k)
        total
        (loop (+ i 1) (+ total (string-length (string-append "item-" (number->string i))))))))
(display (churn 20000)) (newline)
(define bv (make-bytevector 4 7))
(bytevector-u8-set! bv 2 255)
(write bv) (newline)
