module arf.dev/hack/images

go 1.24
