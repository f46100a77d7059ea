
$6f1c2a9e-0b7d-4c1e-9a55-2d3e4f5a6b7c €Ðê¶·3*intake.call.logged2
trace-00018Â
call-1+86 459 000 0000(_