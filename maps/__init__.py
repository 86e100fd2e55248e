"""Folium maps of Wangge: dispatch (command centre), grid worker's cell map, coverage maps.

Imports flow api -> maps -> geo. Every map is offline: assets served by Wangge (maps.assets).
"""
