"""Canvas items: nodes, edges, sticky notes, and port geometry. All paint themselves."""
