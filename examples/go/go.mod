module example.com/flakydetector/orders

go 1.19
