module mosn.dev/proxy

go 1.26
