
$6f1c2a9e-0b7d-4c1e-9a55-2d3e4f5a6b7c €Ðê¶·3*survey.low_score2
trace-00018¢
s-1HZslow