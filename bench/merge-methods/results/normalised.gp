set terminal pngcairo size 900,480 noenhanced
set output 'normalised.png'
set title 'Four task-group experts merged: mean and 95% t-interval over seeds'
set ylabel 'fraction of the expert (1 = the expert)'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.5 border -1
set xtics rotate by -30
set grid ytics
set key top left
plot 'normalised.dat' using 2:3:xtic(1) title 'retained loss gain', \
     '' using 4:5 title 'normalised accuracy'
