package reqinfo_test

import (
	"context"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/wardenhq/warden/internal/reqinfo"
)

type otherKey struct{}

// TestCarrier: a request attached through a Carrier carries its Info, the
// parent's values and the parent's cancellation, and contexts derived
// from it are cancelled with the parent without a goroutine each (the
// context package must still find the parent's cancelCtx).
func TestCarrier(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "kept"))
	r := httptest.NewRequest("GET", "/", nil).WithContext(parent)
	info := &reqinfo.Info{RequestID: "abc"}
	var c reqinfo.Carrier
	r = reqinfo.AttachNew(r, info, &c)

	ctx := r.Context()
	if reqinfo.From(ctx) != info || reqinfo.RequestID(ctx) != "abc" {
		t.Fatalf("info %+v", reqinfo.From(ctx))
	}
	if ctx.Value(otherKey{}) != "kept" {
		t.Fatal("the parent's value is lost")
	}

	before := runtime.NumGoroutine()
	children := make([]context.Context, 100)
	for i := range children {
		var cancelChild context.CancelFunc
		children[i], cancelChild = context.WithCancel(ctx)
		defer cancelChild()
	}
	if n := runtime.NumGoroutine() - before; n > 10 {
		t.Fatalf("%d goroutines started for 100 derived contexts", n)
	}
	cancel()
	for _, child := range children {
		<-child.Done() // blocks, and the test times out, if cancellation is lost
	}
	if ctx.Err() != context.Canceled {
		t.Fatalf("Err %v", ctx.Err())
	}
}
