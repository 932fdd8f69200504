package conformance

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/lifeline-go/lifeline/conformance/phpfpm"
)

func TestZZScratch(t *testing.T) {
	dir := t.TempDir()
	srv, err := phpfpm.Start(context.Background(), phpfpm.WithDir(dir), phpfpm.WithDocRoot("/tmp/scratch/www"),
		phpfpm.WithDirectives("fastcgi_buffering off"),
		phpfpm.WithLocation("/zlib/", "fastcgi_buffering off", "fastcgi_param PHP_VALUE zlib.output_compression=On"),
		phpfpm.WithINI("output_buffering", "4096"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, u := range []string{"/z.php", "/zlib/z.php"} {
		out, _ := exec.Command("curl", "-s", "-D-", "-H", "Accept-Encoding: gzip", "-w", "\ntime %{time_total}\n", srv.URL()+u).CombinedOutput()
		t.Logf("%s\n%s", u, out)
	}
	b, _ := os.ReadFile(dir + "/php-error.log")
	t.Logf("%s", b)
}
