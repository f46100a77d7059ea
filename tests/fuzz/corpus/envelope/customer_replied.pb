
$6f1c2a9e-0b7d-4c1e-9a55-2d3e4f5a6b7c €Ðê¶·3*intake.ticket.customer_replied2
trace-00018ª!
t-1"ops@example.com2	Thank you