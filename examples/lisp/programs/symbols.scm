; symbols.scm - gchlisp's symbol table is weak: symbols that nothing
; references (and that have no global value) are collected.  Interns
; n unique symbols (default 100000) and drops them; after two collections
; the heap holds far less than those symbols would.  Bound symbols and
; symbols still referenced stay the same objects.
(define args (cdr (command-line)))
(define n (if (null? args) 100000 (string->number (car args))))
(define kept (string->symbol "kept-symbol"))
(define (churn i)
  (if (> i 0)
      (begin (string->symbol (string-append "sym-" (number->string i)))
             (churn (- i 1)))))
(churn n)
(gc)
(gc)
(define (lookup key alist)
  (cond ((null? alist) #f)
        ((eq? (car (car alist)) key) (cdr (car alist)))
        (else (lookup key (cdr alist)))))
(define live (lookup 'heap-alloc (gc-stats)))
; kept each: a symbol (32 bytes), its name (>= 16) and a weak handle (8)
(display (if (< live (* n 28)) "dropped symbols were collected" live))
(newline)
(display (eq? kept (string->symbol "kept-symbol")))
(newline)
(display (eq? 'churn (string->symbol "churn")))
(newline)
