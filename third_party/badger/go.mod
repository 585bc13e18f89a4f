module github.com/dgraph-io/badger

go 1.12

require (
	github.com/AndreasBriese/bbloom v0.0.0-20190825152654-46b345b51c96
	github.com/dgraph-io/ristretto v0.0.2
	github.com/dustin/go-humanize v1.0.0
	github.com/golang/protobuf v1.3.1
	github.com/kr/pretty v0.2.0 // indirect
	github.com/pkg/errors v0.8.1
	github.com/spaolacci/murmur3 v1.1.0 // indirect
	github.com/spf13/cobra v0.0.5
	github.com/stretchr/testify v1.4.0
	golang.org/x/net v0.0.0-20190620200207-3b0461eec859
	golang.org/x/sys v0.0.0-20190626221950-04f50cda93cb
	gopkg.in/check.v1 v1.0.0-20190902080502-41f04d3bba15 // indirect
)
