;; binary-trees (the Computer Language Benchmarks Game): build and walk
;; perfect binary trees of pairs, with one long-lived tree kept throughout.
;; Usage: gchlisp binary-trees.scm [DEPTH]   (default 10)

(define (make-tree d)
  (if (= d 0)
      (cons '() '())
      (cons (make-tree (- d 1)) (make-tree (- d 1)))))

(define (check tree)
  (if (null? (car tree))
      1
      (+ 1 (check (car tree)) (check (cdr tree)))))

(define (pow2 n) (if (= n 0) 1 (* 2 (pow2 (- n 1)))))

(define max-depth
  (let ((args (command-line)))
    (if (> (length args) 1) (max 6 (string->number (cadr args))) 10)))
(define min-depth 4)

(define (line . items) (for-each display items) (newline))

(let ((d (+ max-depth 1)))
  (line "stretch tree of depth " d "\t check: " (check (make-tree d))))

(define long-lived (make-tree max-depth))

(do ((d min-depth (+ d 2)))
    ((> d max-depth))
  (let ((iterations (pow2 (+ (- max-depth d) min-depth))))
    (let loop ((i 0) (sum 0))
      (if (< i iterations)
          (loop (+ i 1) (+ sum (check (make-tree d))))
          (line iterations "\t trees of depth " d "\t check: " sum)))))

(line "long lived tree of depth " max-depth "\t check: " (check long-lived))
