;; gcbench: Hans Boehm's GC benchmark (after John Ellis and Pete Kovac),
;; in Scheme.  Trees of nodes (3-element vectors: left, right, value) are
;; built top-down and bottom-up at several depths while a long-lived tree
;; and a long-lived vector stay live.
;; Usage: gchlisp gcbench.scm [LONG-LIVED-DEPTH [MAX-DEPTH]]   (default 12 12)

(define args (command-line))
(define (arg i default)
  (if (> (length args) i) (string->number (list-ref args i)) default))
(define long-lived-depth (arg 1 12))
(define max-depth (arg 2 12))
(define min-depth 4)
(define array-size 10000)

(define (make-node l r) (vector l r 0))
(define (left n) (vector-ref n 0))
(define (right n) (vector-ref n 1))

(define (pow2 n) (if (= n 0) 1 (* 2 (pow2 (- n 1)))))
(define (tree-size d) (- (pow2 (+ d 1)) 1))
(define (iterations d) (quotient (* 2 (tree-size max-depth)) (tree-size d)))

;; top-down: allocate the node first, then fill in its children
(define (populate! d node)
  (when (> d 0)
    (vector-set! node 0 (make-node #f #f))
    (vector-set! node 1 (make-node #f #f))
    (populate! (- d 1) (left node))
    (populate! (- d 1) (right node))))

;; bottom-up: children first
(define (make-tree d)
  (if (<= d 0)
      (make-node #f #f)
      (make-node (make-tree (- d 1)) (make-tree (- d 1)))))

(define (count-nodes n)
  (if (not n) 0 (+ 1 (count-nodes (left n)) (count-nodes (right n)))))

(define (time-construction d)
  (let ((n (iterations d)))
    (do ((i 0 (+ i 1)) (sum 0 (+ sum (let ((t (make-node #f #f))) (populate! d t) (count-nodes t)))))
        ((= i n) (display "top-down   depth ") (display d) (display ": ") (display sum) (newline)))
    (do ((i 0 (+ i 1)) (sum 0 (+ sum (count-nodes (make-tree d)))))
        ((= i n) (display "bottom-up  depth ") (display d) (display ": ") (display sum) (newline)))))

(display "stretching memory with a tree of depth ")
(display max-depth)
(display ": ")
(display (count-nodes (make-tree max-depth)))
(newline)

(define long-lived (make-node #f #f))
(populate! long-lived-depth long-lived)
(define array (make-vector array-size 0))
(do ((i 0 (+ i 1))) ((= i (quotient array-size 2)))
  (vector-set! array i (* i 3)))

(do ((d min-depth (+ d 2))) ((> d max-depth))
  (time-construction d))

(display "long-lived tree: ")
(display (count-nodes long-lived))
(display ", array[1000] = ")
(display (vector-ref array 1000))
(newline)
