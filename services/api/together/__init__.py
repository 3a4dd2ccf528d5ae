"""Walk together: invitations and their state machine, the sweeper that ends them by the clock,
and telling the realtime gateways, after commit, that a walk ended."""
