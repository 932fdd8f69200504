package frameworks_test

// The recipes: the shop app of docs/FRAMEWORKS.md wired to a lifeline.Pool
// with each router. Every recipe follows one rule: the pool wraps the whole
// router from outside (pool.Middleware()(router)), so that the router,
// its context, its error handler and its recoverer all run on the run's
// goroutine, and routes only adjust their run with pool.Middleware(opts...)
// used as the router's own per-route middleware. The tests in
// frameworks_test.go run every route of every recipe against real clients.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/gorilla/handlers"
	"github.com/gorilla/mux"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"

	"github.com/lifeline-go/lifeline"
)

// The shop's routes, the same for every router:
//
//	GET  /items/{id}   answers "item <id>" from the router's path parameter
//	GET  /missing      the router's own not-found error
//	GET  /panic        panics: the router's recoverer answers 500
//	POST /orders/{id}  answers 201 with Finish, then confirms the order, reading
//	                   the path parameter again from the router's context
//	GET  /slow/{id}    a route with a 200 ms time limit, named "slow"
//	GET  /wait/{id}    works until the client leaves

// slowLimit is the /slow route's own time limit.
var slowLimit = []lifeline.Option{lifeline.WithRoute("slow"), lifeline.WithTimeLimit(200 * time.Millisecond)}

// confirm stands for the work after Finish: it records the order it
// confirmed on the run, from the router's own path parameter.
func confirm(r *http.Request, id string) {
	time.Sleep(20 * time.Millisecond) // sending the confirmation e-mail
	if rn, ok := lifeline.FromContext(r.Context()); ok {
		rn.Annotate("confirmed", id)
	}
}

// finish sends the answer so far and lets the run go on.
func finish(r *http.Request) error {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		return errors.New("no lifeline run: the pool does not wrap the router")
	}
	return rn.Finish()
}

// waitDone works until the run's context ends (time limit or client gone),
// then writes, which terminates the run.
func waitDone(w io.Writer, r *http.Request) {
	<-r.Context().Done()
	io.WriteString(w, "late")
}

// serveMuxApp is the net/http ServeMux recipe.
func serveMuxApp(pool *lifeline.Pool) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s", r.PathValue("id"))
	})
	m.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	m.HandleFunc("POST /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %s accepted", r.PathValue("id"))
		if err := finish(r); err != nil {
			return
		}
		confirm(r, r.PathValue("id"))
	})
	m.Handle("GET /slow/{id}", pool.Middleware(slowLimit...)(http.HandlerFunc(waitDone2)))
	m.HandleFunc("GET /wait/{id}", waitDone2)
	// ServeMux has no recoverer: a panic is the pool's, which answers 500.
	return pool.Middleware()(m)
}

func waitDone2(w http.ResponseWriter, r *http.Request) { waitDone(w, r) }

// chiApp is the chi v5 recipe. chi recycles its routing context when its
// ServeHTTP returns, so the pool goes outside the router, not in r.Use: a
// run that goes on after Finish must still find its URL parameters.
func chiApp(pool *lifeline.Pool) http.Handler {
	r := chi.NewRouter()
	r.Use(chimw.Recoverer)
	r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s", chi.URLParam(r, "id"))
	})
	r.Get("/panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	r.Post("/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %s accepted", chi.URLParam(r, "id"))
		if err := finish(r); err != nil {
			return
		}
		confirm(r, chi.URLParam(r, "id"))
	})
	r.With(pool.Middleware(slowLimit...)).Get("/slow/{id}", waitDone2)
	r.Get("/wait/{id}", waitDone2)
	return pool.Middleware()(r)
}

// ginRun adapts a route's lifeline middleware to gin, keeping the route's
// *gin.Context: the middleware adjusts the run the outer pool made and calls
// the rest of the route's chain on the same goroutine. (gin.WrapH would
// hand the handler a request without gin's context: path parameters came
// back empty.)
func ginRun(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
	}
}

// ginApp is the gin v1.12 recipe. gin recycles its *gin.Context when its
// ServeHTTP returns, so the pool goes outside the engine.
func ginApp(pool *lifeline.Pool, log io.Writer) http.Handler {
	e := gin.New()
	e.Use(gin.RecoveryWithWriter(log))
	e.GET("/items/:id", func(c *gin.Context) { c.String(http.StatusOK, "item %s", c.Param("id")) })
	e.GET("/panic", func(c *gin.Context) { panic("boom") })
	e.POST("/orders/:id", func(c *gin.Context) {
		c.String(http.StatusCreated, "order %s accepted", c.Param("id"))
		if err := finish(c.Request); err != nil {
			return
		}
		confirm(c.Request, c.Param("id"))
	})
	e.GET("/slow/:id", ginRun(pool.Middleware(slowLimit...)), func(c *gin.Context) { waitDone(c.Writer, c.Request) })
	e.GET("/wait/:id", func(c *gin.Context) { waitDone(c.Writer, c.Request) })
	return pool.Middleware()(e)
}

// echoApp is the echo v4 recipe. echo returns its Context to a pool when
// its ServeHTTP returns and runs its error handler after the route's
// handler returned, so the pool goes outside the echo instance: with
// e.Use(echo.WrapMiddleware(pool.Middleware())) a run that goes on after
// Finish races echo's reuse of its Context, and an error returned by the
// handler is written by echo after the run ended.
func echoApp(pool *lifeline.Pool, log io.Writer) http.Handler {
	e := echo.New()
	e.Logger.SetOutput(log)
	e.Use(echomw.Recover())
	e.GET("/items/:id", func(c echo.Context) error { return c.String(http.StatusOK, "item "+c.Param("id")) })
	e.GET("/missing", func(c echo.Context) error { return echo.NewHTTPError(http.StatusNotFound, "no such item") })
	e.GET("/panic", func(c echo.Context) error { panic("boom") })
	e.POST("/orders/:id", func(c echo.Context) error {
		if err := c.String(http.StatusCreated, "order "+c.Param("id")+" accepted"); err != nil {
			return err
		}
		if err := finish(c.Request()); err != nil {
			return err
		}
		confirm(c.Request(), c.Param("id"))
		return nil
	})
	e.GET("/slow/:id", func(c echo.Context) error { waitDone(c.Response(), c.Request()); return nil },
		echo.WrapMiddleware(pool.Middleware(slowLimit...)))
	e.GET("/wait/:id", func(c echo.Context) error { waitDone(c.Response(), c.Request()); return nil })
	return pool.Middleware()(e)
}

// gorillaApp is the gorilla/mux recipe, with gorilla/handlers' recoverer.
func gorillaApp(pool *lifeline.Pool, log handlers.RecoveryHandlerLogger) http.Handler {
	r := mux.NewRouter()
	r.Use(handlers.RecoveryHandler(handlers.RecoveryLogger(log)))
	r.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s", mux.Vars(r)["id"])
	}).Methods(http.MethodGet)
	r.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	r.HandleFunc("/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %s accepted", mux.Vars(r)["id"])
		if err := finish(r); err != nil {
			return
		}
		confirm(r, mux.Vars(r)["id"])
	}).Methods(http.MethodPost)
	r.Handle("/slow/{id}", pool.Middleware(slowLimit...)(http.HandlerFunc(waitDone2)))
	r.HandleFunc("/wait/{id}", waitDone2)
	return pool.Middleware()(r)
}
