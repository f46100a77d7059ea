
$6f1c2a9e-0b7d-4c1e-9a55-2d3e4f5a6b7c ��궷3*intake.customer.upserted2
trace-00018�e
c
$c0a80001-0000-4000-8000-000000000001大庆石化设备公司ops@example.com:	strategicBzh-CN