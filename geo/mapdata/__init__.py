"""Data shaped for drawing: the layers the Folium maps in ``maps/`` read."""
