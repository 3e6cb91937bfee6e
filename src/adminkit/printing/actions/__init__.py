"""Print actions: one module per kind of target; `registry.ACTIONS` names them all."""
