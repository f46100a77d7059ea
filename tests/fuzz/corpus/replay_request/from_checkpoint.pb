

dispatch-1