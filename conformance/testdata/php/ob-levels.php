<?php
// ob-levels: a chunked output handler through write, flush, clean and end;
// ob_get_level/length/contents; headers_sent before and after the base
// buffer overflows; header() after that.
require_once __DIR__ . '/_lib.php';
conf_errors();
function h(string $buf, int $phase)
{
    ev('ob', 'h:' . $phase . ':' . strlen($buf));
    return strtoupper($buf);
}
ev('level', ob_get_level());
ob_start('h', 4);
ev('level', ob_get_level());
echo 'ab';
echo 'cde';
echo 'f';
ob_flush();
echo 'gh';
ob_clean();
echo 'ij';
ev('length', ob_get_length());
ev('contents', ob_get_contents());
ev('sent', headers_sent() ? 'yes' : 'no');
ob_end_flush();
ev('level', ob_get_level());
ev('base', ob_get_length());
echo str_repeat('z', 5000);
ev('sent', headers_sent() ? 'yes' : 'no');
header('X-Late: 1');
ev('level', ob_get_level());
