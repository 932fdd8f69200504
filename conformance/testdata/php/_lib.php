<?php
// Conformance library, required by every scenario script. It tells the test
// what the server saw: each event is one JSON line {"run","t","k","v"}
// appended to the file nginx names in fastcgi_param CONFORMANCE_LOG, tagged
// with the run id the client sent in X-Conformance-Run. The Go side
// (script_test.go) writes the same lines with the same helpers:
//   ev(k, v)            any event; keys starting with "i." are shown, not compared
//   mark(at)            how far the script got
//   status(at)          connection_status() at that point
//   wait_signal(name)   block until the client driver says so (file signal)
//   burn(sec)           busy loop of sec seconds of CPU time (Go: wall time)
//   idle_poll(sec)      work without output, polling connection_aborted()

$GLOBALS['conf_start'] = microtime(true);
$GLOBALS['conf_cpu0'] = conf_cpu_ms();

function conf_run(): string
{
    return $_SERVER['HTTP_X_CONFORMANCE_RUN'] ?? 'none';
}

function ev(string $k, $v = ''): void
{
    $line = json_encode(['run' => conf_run(), 't' => microtime(true), 'k' => $k, 'v' => (string)$v]) . "\n";
    file_put_contents($_SERVER['CONFORMANCE_LOG'], $line, FILE_APPEND | LOCK_EX);
}

function mark(string $at): void
{
    ev('mark', $at);
}

function status(string $at): void
{
    ev('status', $at . '=' . connection_status());
}

function wait_signal(string $name, float $max = 8.0): bool
{
    ev('wait', $name);
    $f = $_SERVER['CONFORMANCE_DIR'] . '/signal-' . str_replace('/', '_', conf_run()) . '-' . $name;
    $end = microtime(true) + $max;
    while (!file_exists($f)) {
        if (microtime(true) > $end) {
            ev('error', "signal $name never came");
            return false;
        }
        usleep(2000);
        clearstatcache();
    }
    return true;
}

// burn is a busy loop that uses $sec seconds of CPU time, the clock PHP's
// time limit counts, whatever else the machine is doing.
function burn(float $sec): void
{
    $end = conf_cpu_ms() + (int)($sec * 1000);
    while (conf_cpu_ms() < $end) {
    }
}

function idle_poll(float $sec): void
{
    $end = microtime(true) + $sec;
    while (microtime(true) < $end) {
        if (connection_aborted()) {
            ev('noticed', 'abort');
            return;
        }
        usleep(10000);
    }
    ev('noticed', 'nothing');
}

function conf_cpu_ms(): int
{
    $r = getrusage();
    return intdiv(($r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']) * 1000000 + $r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec'], 1000);
}

// elapsed logs the wall and CPU time since the script started (shown, not compared).
function elapsed(string $at): void
{
    ev('i.time', sprintf('%s wall=%dms cpu=%dms', $at, (microtime(true) - $GLOBALS['conf_start']) * 1000, conf_cpu_ms() - $GLOBALS['conf_cpu0']));
}

// ready sends "ready\n" through every buffer to the client.
function ready(): void
{
    echo "ready\n";
    ob_flush();
    flush();
    mark('ready');
}

// big_output writes $n chunks of 20 KB, each pushed to the client, marking each.
function big_output(int $n): void
{
    $chunk = str_repeat('x', 20480);
    for ($i = 1; $i <= $n; $i++) {
        echo $chunk;
        ob_flush();
        flush();
        ev('i.wrote', $i);
    }
}

// conf_errors logs warnings and notices as events instead of printing them,
// with the messages the Go side uses.
function conf_errors(): void
{
    set_error_handler(function (int $no, string $msg) {
        if (str_contains($msg, 'Cannot modify header information')) {
            $msg = 'header: headers already sent';
        }
        ev($no === E_NOTICE ? 'notice' : 'warning', $msg);
        return true;
    });
}
