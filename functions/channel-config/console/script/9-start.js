
  // --- start ---------------------------------------------------------------------------------
  // Last, after every part has defined what start() wires.
  start();
}());
