"""Messages that skills and the process both render and keep current: the incident card, a
run's card, the blast-radius view, its picture and its live tracker."""
