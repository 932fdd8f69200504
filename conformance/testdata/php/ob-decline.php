<?php
// ob-decline: an output handler that returns false (declines) on its first
// flush; later output bypasses it.
require_once __DIR__ . '/_lib.php';
conf_errors();
function d(string $buf, int $phase)
{
    ev('ob', 'd:' . $phase . ':' . strlen($buf));
    return false;
}
ob_start('d');
echo 'raw';
ob_flush();
echo '-more';
ev('length', ob_get_length());
ev('level', ob_get_level());
ob_end_flush();
ev('level', ob_get_level());
