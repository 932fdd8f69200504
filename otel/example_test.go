package lifelineotel_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lifeline-go/lifeline"
	lifelineotel "github.com/lifeline-go/lifeline/otel"
)

func Example() {
	sr := tracetest.NewSpanRecorder() // an exporter in a real program
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	tr, _ := lifelineotel.New(lifelineotel.WithTracerProvider(tp))
	ended := make(chan struct{}, 1)
	pool, _ := lifeline.NewPool(append(tr.PoolOptions(), lifeline.WithRunEnded(func(lifeline.Record) {
		ended <- struct{}{} // after tr.RunEnded: the span has ended
	}))...)
	defer pool.Shutdown(context.Background())

	order := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		io.WriteString(w, "accepted")
		rn.Finish()
		time.Sleep(20 * time.Millisecond) // the e-mail, after the answer
	})
	h := pool.Middleware(lifeline.WithRoute("order"))(tr.Middleware(order))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/order", nil))
	<-ended // the run's end, after the work after Finish

	span := sr.Ended()[0]
	fmt.Println(span.Name(), span.EndTime().Sub(span.StartTime()) >= 20*time.Millisecond)
	for _, e := range span.Events() {
		fmt.Println(e.Name)
	}
	// Output:
	// run order true
	// lifeline.finish
}
