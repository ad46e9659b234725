"""The Studer Innotec family: Xtenders, VarioTrack, VarioString and BSP behind one Xcom."""
