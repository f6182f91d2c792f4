module gosv

go 1.26
