<?php
// gzip: 3 KB of text, compressed by the server, normal end.
require_once __DIR__ . '/_lib.php';
header('Content-Type: text/plain');
echo str_repeat("Lifeline conformance line.\n", 120);
mark('end');
