"""Human agents' work: the queue, claims and assignment, replies, notes, resolve, handback."""
