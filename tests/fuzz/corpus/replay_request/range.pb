
intake-0( d