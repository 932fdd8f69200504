package phpfpm

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// The files Start writes in the server's directory.
const (
	fpmConfName   = "php-fpm.conf"
	fpmPidName    = "php-fpm.pid"
	fpmLogName    = "php-fpm.log"
	fpmOutName    = "php-fpm.out"
	socketName    = "php-fpm.sock"
	nginxConfName = "nginx.conf"
	nginxPidName  = "nginx.pid"
	nginxLogName  = "nginx-error.log"
	nginxOutName  = "nginx.out"
	accessLogName = "nginx-access.log"
	phpErrorName  = "php-error.log"
	nginxTempName = "nginx-temp"
)

// StatusPath is the path of PHP-FPM's status page (pm.status_path), served
// by nginx. [Server.WaitIdle] reads it.
const StatusPath = "/fpm-status"

// fpmConfig returns php-fpm.conf: one static pool on a Unix socket, logs in
// dir, status page on, workers' stderr in the pool log.
func fpmConfig(o *options) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("; written by lifeline conformance/phpfpm")
	p("[global]")
	p("pid = %s", filepath.Join(o.dir, fpmPidName))
	p("error_log = %s", filepath.Join(o.dir, fpmLogName))
	p("log_level = notice")
	p("daemonize = no")
	p("")
	p("[lifeline]")
	p("listen = %s", filepath.Join(o.dir, socketName))
	p("listen.mode = 0666")
	if o.backlog > 0 {
		p("listen.backlog = %d", o.backlog)
	}
	p("pm = static")
	p("pm.max_children = %d", o.workers)
	p("pm.status_path = %s", StatusPath)
	p("catch_workers_output = yes")
	p("decorate_workers_output = no")
	p("request_terminate_timeout = 120s")
	return b.String()
}

// fpmArgs returns php-fpm's command line.
func fpmArgs(o *options) []string {
	args := []string{"-n", "-F", "-O", "-y", filepath.Join(o.dir, fpmConfName), "-p", o.dir}
	if os.Geteuid() == 0 {
		args = append(args, "-R") // the pool runs as root: allow it
	}
	args = append(args, "-d", "error_log="+filepath.Join(o.dir, phpErrorName))
	for _, kv := range o.ini {
		args = append(args, "-d", kv[0]+"="+kv[1])
	}
	return args
}

// nginxConfig returns nginx.conf for a server on 127.0.0.1:port passing
// every *.php request to the pool.
func nginxConfig(o *options, port int) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	tmp := filepath.Join(o.dir, nginxTempName)
	p("# written by lifeline conformance/phpfpm")
	if os.Geteuid() == 0 {
		// Workers would otherwise switch to nobody and lose access to dir.
		name := "root"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		p("user %s;", name)
	}
	if o.nginxWorkers == 0 {
		p("worker_processes auto;")
	} else {
		p("worker_processes %d;", o.nginxWorkers)
	}
	if o.nginxConns > 512 {
		p("worker_rlimit_nofile %d;", 2*o.nginxConns+64)
	}
	p("pid %s;", filepath.Join(o.dir, nginxPidName))
	p("error_log %s notice;", filepath.Join(o.dir, nginxLogName))
	p("events { worker_connections %d; }", o.nginxConns)
	p("http {")
	if o.accessLog {
		p("  access_log %s;", filepath.Join(o.dir, accessLogName))
	} else {
		p("  access_log off;")
	}
	for _, name := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		p("  %s_temp_path %s;", name, filepath.Join(tmp, name))
	}
	p("  default_type text/plain;")
	p("  keepalive_timeout 30s;")
	if o.fcgiKeep > 0 {
		p("  upstream php_fpm {")
		p("    server unix:%s;", filepath.Join(o.dir, socketName))
		p("    keepalive %d;", o.fcgiKeep)
		p("  }")
	}
	p("  server {")
	if o.backlog > 0 {
		p("    listen 127.0.0.1:%d backlog=%d;", port, o.backlog)
	} else {
		p("    listen 127.0.0.1:%d;", port)
	}
	p("    root %s;", o.docRoot)
	p("    location = %s {", StatusPath)
	writeFastCGI(&b, o, StatusPath, StatusPath)
	p("    }")
	for _, l := range o.locations {
		re := "^" + strings.TrimSuffix(l.prefix, "/") + "(?<ll_script>/[A-Za-z0-9_.-]+\\.php)$"
		p("    location ~ %s {", re)
		writeDirectives(&b, l.directives)
		writeFastCGI(&b, o, "$ll_script", "$document_root$ll_script")
		p("    }")
	}
	p("    location ~ ^/[A-Za-z0-9_.-]+\\.php$ {")
	writeDirectives(&b, o.directives)
	writeFastCGI(&b, o, "$uri", "$document_root$uri")
	p("    }")
	p("    location / { return 404; }")
	p("  }")
	p("}")
	return b.String()
}

func writeDirectives(b *strings.Builder, ds []string) {
	for _, d := range ds {
		d = strings.TrimSpace(d)
		if !strings.HasSuffix(d, ";") {
			d += ";"
		}
		fmt.Fprintf(b, "      %s\n", d)
	}
}

// writeFastCGI writes the fastcgi_pass block of a location: the standard
// CGI parameters (nginx's fastcgi_params, written out so that no file
// outside dir is read) and the caller's own.
func writeFastCGI(b *strings.Builder, o *options, scriptName, scriptFile string) {
	params := [][2]string{
		{"QUERY_STRING", "$query_string"},
		{"REQUEST_METHOD", "$request_method"},
		{"CONTENT_TYPE", "$content_type"},
		{"CONTENT_LENGTH", "$content_length"},
		{"SCRIPT_NAME", scriptName},
		{"SCRIPT_FILENAME", scriptFile},
		{"REQUEST_URI", "$request_uri"},
		{"DOCUMENT_URI", "$document_uri"},
		{"DOCUMENT_ROOT", "$document_root"},
		{"SERVER_PROTOCOL", "$server_protocol"},
		{"REQUEST_SCHEME", "$scheme"},
		{"GATEWAY_INTERFACE", "CGI/1.1"},
		{"SERVER_SOFTWARE", "nginx/$nginx_version"},
		{"REMOTE_ADDR", "$remote_addr"},
		{"REMOTE_PORT", "$remote_port"},
		{"SERVER_ADDR", "$server_addr"},
		{"SERVER_PORT", "$server_port"},
		{"SERVER_NAME", "$server_name"},
		{"REDIRECT_STATUS", "200"},
	}
	params = append(params, o.params...)
	if o.fcgiKeep > 0 {
		b.WriteString("      fastcgi_pass php_fpm;\n      fastcgi_keep_conn on;\n")
	} else {
		fmt.Fprintf(b, "      fastcgi_pass unix:%s;\n", filepath.Join(o.dir, socketName))
	}
	for _, kv := range params {
		fmt.Fprintf(b, "      fastcgi_param %s %s;\n", kv[0], kv[1])
	}
}
