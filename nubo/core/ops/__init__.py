"""The core's operations: what a requester may do to the cloud, whatever front asked.

Every operation has one shape: typed arguments, then authorise, then check its
prerequisites against the current state, then apply in one transaction it owns, then,
after the commit, hooks, events and driver actions. A front (the XML-RPC API, the CLI's
server side, a web console's back end) binds its wire arguments, calls an operation
and shapes the reply; it holds no rule of its own.
"""
