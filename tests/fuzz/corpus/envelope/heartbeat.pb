
$6f1c2a9e-0b7d-4c1e-9a55-2d3e4f5a6b7c €Ğê¶·3*	intake.hb2
trace-00018R
intakeintake-0"ok20.1.0