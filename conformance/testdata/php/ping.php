<?php
// The second request of the driver's connection-reuse check.
echo 'pong';
