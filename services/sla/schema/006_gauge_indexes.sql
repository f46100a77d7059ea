-- The business gauges of the tick (gauges.c), every 10 s: clocks at risk
-- (warned, still running) and breached clocks whose ticket or complaint is
-- still open, by target. Two small partial indexes answer both from the
-- open few, however many clocks history holds.
CREATE INDEX clocks_at_risk ON clocks (target) WHERE state = 'running' AND warned;
CREATE INDEX clocks_breached_open ON clocks (target) WHERE state = 'breached' AND stopped_at IS NULL;
