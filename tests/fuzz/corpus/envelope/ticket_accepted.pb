
$6f1c2a9e-0b7d-4c1e-9a55-2d3e4f5a6b7c €Ðê¶·3*dispatch.ticket.accepted2
trace-00018ÂG
*
t-1CS-2026-000123:ops@example.comjP1agent.linew"accepted@