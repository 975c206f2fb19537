set terminal pngcairo size 800,500 font ",10" noenhanced
set output 'posthoc_sweep.png'
set title 'Held-out loss against EMA width, 3 seeds (mean, 95% interval)'
set xlabel 'sigma_rel (power EMA width relative to the run)'
set ylabel 'held-out loss (nats/token)'
set logscale x
set xtics (0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25)
set grid
set key top left
set xrange [0.015:0.3]
plot 'posthoc_sweep.tsv' using 1:2:3 with yerrorlines title 'post-hoc reconstruction (from the 0.05/0.10 snapshots)', \
     'posthoc_tracked.tsv' using 1:2:3 with yerrorbars pointtype 7 pointsize 1.5 title 'EMA tracked during training', \
     4.732831507367102 with lines dashtype 2 title 'raw final weights (4.7328 ± 0.0437)'
