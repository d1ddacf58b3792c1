module gcheap.example/bench/go

go 1.19
