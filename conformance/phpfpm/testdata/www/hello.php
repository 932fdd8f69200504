<?php
// Used by phpfpm_test.go: shows the ini and fastcgi_param the test set.
header('Content-Type: text/plain');
echo 'hello ', ini_get('output_buffering'), ' ', $_SERVER['LL_PARAM'] ?? '-';
