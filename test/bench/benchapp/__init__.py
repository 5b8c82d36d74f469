# Django app with the benchmark's models (a <- b <- c), over tables the benchmark creates.
