package shop_test

import (
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/frameworks/shop"
	"github.com/lifeline-go/lifeline/lifelinetest"
)

// orders stores instantly and confirms after delay.
type orders struct{ delay time.Duration }

func (orders) Store(string) error     { return nil }
func (o orders) Confirm(string) error { time.Sleep(o.delay); return nil }

func TestOrderClientLeaves(t *testing.T) {
	p := lifelinetest.NewPool(t)
	srv := p.NewServer(shop.Routes(p.Pool, orders{}))
	res := srv.Leave(httptest.NewRequest("POST", "/orders/7", nil), lifelinetest.BeforeHeader(), lifelinetest.Reset)
	if rec := res.Record(); rec.Notes["confirmed"] != "7" {
		t.Errorf("record %+v: the order was not confirmed", rec)
	}
}

func TestOrderTimeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lifelinetest.NewPool(t)
		resp := p.Do(shop.Routes(p.Pool, orders{delay: 30 * time.Second}), httptest.NewRequest("POST", "/orders/8", nil))
		if rec := resp.Record(); resp.Code != 201 || rec.Status != lifeline.Timeout || rec.Duration != 30*time.Second {
			t.Errorf("code %d, record %+v: want 201, then a timeout", resp.Code, rec)
		}
	})
}
